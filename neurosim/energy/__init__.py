"""Energy-based families: Hopfield networks (classical and modern), Ising annealing, Boltzmann
machines (BM, RBM) and deep belief networks."""
from .hopfield import HopfieldNetwork, ModernHopfield  # noqa: F401
from .annealing import IsingAnnealer, beta_schedule, sk_couplings  # noqa: F401
from .boltzmann import BoltzmannMachine  # noqa: F401
from .rbm import RBM  # noqa: F401
from .dbn import DBN, SoftmaxRegression  # noqa: F401
