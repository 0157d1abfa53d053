"""An example third-party package that adds a billing source to cloudledger."""
