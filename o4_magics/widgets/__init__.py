"""The ipywidgets front ends: the ``%o4_usage`` panel (``usage_panel``) and the inline chat (``chat``).

Nothing is imported here, so ``%load_ext o4_magics`` never pulls in ipywidgets; each magic imports its module.
"""
