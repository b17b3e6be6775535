"""Moving file contents: resumable uploads, the blob store, allowed file types."""
