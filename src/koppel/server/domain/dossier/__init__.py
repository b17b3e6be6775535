"""The dossier: destinations, item types, items, their versions and the firm template."""
