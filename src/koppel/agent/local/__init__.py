"""What the agent keeps on this workstation: its state and tokens, the queue of
submissions, edit sessions, the My files folder, and how files are named and written
there. Nothing here speaks HTTP."""
