"""Seamless on Dask, in two roles that must not meet:

* the wrapper (every module here but :mod:`seamless_dask.backend`): ``seamless-dask-wrapper``,
  the process that holds a Dask cluster next to its scheduler. It runs in pure Dask mode, so it
  imports no Seamless package but seamless_service (the launch protocol), and no Dask before it
  has computed the Dask configuration;
* the backend (:mod:`seamless_dask.backend`): Seamless transformations on the cluster's workers,
  which imports seamless and seamless_transformer.

tests/test_layers.py enforces both. This file must stay free of imports.
"""
