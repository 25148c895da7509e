"""Regenerates data/mixture.csv: Welling & Teh's (2011) mixture toy, 100 draws of
x ~ 0.5 N(0, 2) + 0.5 N(0 + 1, 2), i.e. theta = (0, 1). Run: python3 data/make_mixture.py
(numpy >= 1.17). The committed file is the data set; this script documents where it came from."""
import numpy as np

rng = np.random.default_rng(20110628)
component = rng.integers(0, 2, size=100)
x = rng.normal(loc=np.where(component == 1, 1.0, 0.0), scale=np.sqrt(2.0))
with open("data/mixture.csv", "w") as out:
    out.write("x\n")
    for value in x:
        out.write(f"{value:.9f}\n")
