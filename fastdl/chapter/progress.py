"""Progress bars that stay silent when stderr is not a terminal."""
from tqdm import tqdm


def progress(iterable=None, desc=None, total=None):
    """A tqdm bar over ``iterable``; ``disable=None`` turns it off off a terminal."""
    return tqdm(iterable, desc=desc, total=total, disable=None, leave=False, dynamic_ncols=True)
