"""What changed: the contract diff under a cell, response diffs, and API coverage."""
