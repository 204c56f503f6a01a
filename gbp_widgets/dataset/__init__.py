"""A whole data set explained: items streamed through the engine into a Parquet folder that
resumes where it stopped, and read back as :class:`DatasetResults`.

pyarrow is an extra (``pip install -e ".[dataset]"`` in a clone of the repository); it is
imported only when a job runs or results are read.
"""

from gbp_widgets.dataset.job import explain_dataset
from gbp_widgets.dataset.results import DatasetResults

__all__ = ["DatasetResults", "explain_dataset"]
