"""The registry mirror of internet-free stacks: ``config`` (the `mirror:` section of a platform stack file and
its checks) and ``component`` (RegistryMirror: pull-through cache rules, repository creation templates and the
repositories of copied images). Nothing is imported here, so ``components.mirror.config`` loads without Pulumi.
"""
