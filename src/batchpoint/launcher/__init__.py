"""Starting job drivers: a fresh interpreter, a fork of the caller, or a fork of a pre-imported zygote."""
