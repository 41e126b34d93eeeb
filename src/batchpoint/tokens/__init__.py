"""API tokens of the team server: roles and principals (``auth``), and issuing, listing, revoking and verifying them (``service``)."""
