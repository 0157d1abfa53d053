"""Built-in recommenders, one module each; ``optimize.registry.RECOMMENDERS.load()`` imports
every module here (and third-party ones from the ``cloudledger.recommenders`` entry points)."""
