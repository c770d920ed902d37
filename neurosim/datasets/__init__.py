"""Built-in data: bundled sets and generators, one module per kind.

Bundled files live in ``neurosim/data`` (sources and licences in its README) and load without
pickle.
"""
from .bundled import digits  # noqa: F401
from .patterns import letters, noisy, random_patterns  # noqa: F401
from .text import us_text  # noqa: F401
from .timeseries import lorenz, mackey_glass, narma, sine, sine_family  # noqa: F401
from .spikes import jittered_templates  # noqa: F401
from .bars import bars_and_stripes  # noqa: F401
from .idx import fashion_mnist, mnist, read_idx, write_idx  # noqa: F401
from .prep import Standardizer, digits_split, one_hot, train_test_split  # noqa: F401
from .gates import GATES, logic_gate  # noqa: F401
