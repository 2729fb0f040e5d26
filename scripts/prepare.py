"""Split scikit-learn's bundled breast cancer data set into train and test sets.

The data set ships inside the scikit-learn package, so nothing is downloaded.
"""

from pathlib import Path

import numpy as np
from ruamel.yaml import YAML
from sklearn.datasets import load_breast_cancer
from sklearn.model_selection import train_test_split


def main() -> None:
    params = YAML(typ="safe").load(Path("params.yaml"))["prepare"]
    features, labels = load_breast_cancer(return_X_y=True)
    x_train, x_test, y_train, y_test = train_test_split(
        features,
        labels,
        test_size=params["test_size"],
        random_state=params["seed"],
        stratify=labels,
    )
    out = Path("data/prepared")
    out.mkdir(parents=True, exist_ok=True)
    np.savez(out / "train.npz", x=x_train, y=y_train)
    np.savez(out / "test.npz", x=x_test, y=y_test)
    print(f"train: {len(y_train)} rows, test: {len(y_test)} rows")


if __name__ == "__main__":
    main()
