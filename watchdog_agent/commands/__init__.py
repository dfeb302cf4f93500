"""The CLI's commands, one a module, with what only they use: plain-text tables, the
post-mortem text, and the link to a running agent."""
