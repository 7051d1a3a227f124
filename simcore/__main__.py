from .cli import entry

# Not when a spawned process (a LocalCluster worker of --engine dask) re-imports the main module.
if __name__ == "__main__":
    entry()
