# Kernels started for the book (tools/notebooks.py, pytest --nbval) use this profile
# through IPYTHONDIR (see book/conftest.py). TensorFlow's C++ runtime writes log lines
# straight to file descriptor 2; with fd capture off they stay on the terminal
# instead of landing in notebook outputs, where they would differ between machines.
c = get_config()  # noqa: F821
c.IPKernelApp.capture_fd_output = False
