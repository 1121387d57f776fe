"""The Pulumi programs: ``builders`` composes a platform stack, ``team`` a model-team stack (``__main__`` picks)."""
