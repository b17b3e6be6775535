"""The web portal: sign-in, sessions, second factors, devices, the console."""
