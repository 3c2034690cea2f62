"""Only for the optional C loop of AES-MMO (rig/image/_mmo.c); everything else is in pyproject.toml.

optional=True: without a C compiler or the OpenSSL headers (Debian: libssl-dev) the install still
succeeds, and rig.image.integrity runs its Python loop over the `cryptography` package instead.
"""

from setuptools import Extension, setup

setup(ext_modules=[Extension("rig.image._mmo", ["rig/image/_mmo.c"], libraries=["crypto"], optional=True)])
