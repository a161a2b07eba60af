"""The air-gapped workstation's tool. It imports no networking code."""
