"""Warnings mlpx raises, exported from the package."""


class DivergenceWarning(RuntimeWarning):
    """Training blew up: the loss grew by orders of magnitude over the fit.

    The model is finite but useless; lower ``learning_rate_init`` or scale
    the inputs (e.g. ``sklearn.preprocessing.StandardScaler``). A loss or
    weights that become non-finite raise ValueError instead.
    """


class InconsistentVersionWarning(UserWarning):
    """An estimator pickled by one mlpx version is loaded by another.

    Attributes
    ----------
    estimator_name : str
    original_mlpx_version : str
        The version that pickled it ("unknown" for pickles that predate the
        version record).
    current_mlpx_version : str
        The version loading it.
    """

    def __init__(self, estimator_name, original_mlpx_version, current_mlpx_version):
        # args are the three fields, so the warning itself pickles
        super().__init__(estimator_name, original_mlpx_version, current_mlpx_version)
        self.estimator_name = estimator_name
        self.original_mlpx_version = original_mlpx_version
        self.current_mlpx_version = current_mlpx_version

    def __str__(self):
        return (
            f"Trying to unpickle estimator {self.estimator_name} from mlpx version "
            f"{self.original_mlpx_version} when using version "
            f"{self.current_mlpx_version}. This might lead to breaking code or "
            "invalid results; refit the estimator with this version, or load it "
            f"with mlpx {self.original_mlpx_version}."
        )
