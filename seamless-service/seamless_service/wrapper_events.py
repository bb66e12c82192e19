"""The Dask event topic shared by seamless-dask-wrapper (which logs) and its clients (which subscribe)."""

#: the topic on which seamless-dask-wrapper reports worker failures and pending jobs
WRAPPER_EVENT_TOPIC = "seamless-dask-wrapper"
