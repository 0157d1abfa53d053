"""Source modules, one per export format; each registers itself with ``registry``."""
