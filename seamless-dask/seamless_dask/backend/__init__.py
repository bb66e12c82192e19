"""The backend role of seamless-dask: Seamless transformations on the workers of a Dask cluster.

``transformation_backend.DaskTransformationBackend`` (the client side, registered as the
``daskserver`` backend in the entry-point group ``seamless.remote_backends``) and
``transformation_task`` (what runs on a worker). Unlike the wrapper (the rest of
``seamless_dask``), the backend imports seamless and seamless_transformer. This file imports
nothing: a worker loads only the task module.
"""
