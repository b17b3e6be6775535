"""The environment host: many environments in one service.

``domain`` holds the rules (environments, authorization, tokens, the procedure) and knows
nothing of HTTP or SQL; ``adapters`` connect it to a database, a blob store, HTTP and the
command line.
"""
