"""Seamless on Dask: ``seamless-dask-wrapper`` (the process that holds a Dask cluster next to its
scheduler) and the Seamless Dask client.

This file must stay free of imports: the wrapper runs in pure Dask mode, where no Seamless
package (``seamless``, ``seamless_config``, ``seamless_remote``, ``seamless_transformer``) may be
loaded, and it must not import Dask before it has computed the Dask configuration.
"""
