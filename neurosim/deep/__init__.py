"""The gradient-trained families of the zoo, one module per group, on :mod:`neurosim.nn`.

``neurosim.nn`` is the engine (tensors and ops, layers, losses, optimisers, ``fit``); the
families built from it live here and every public name is re-exported
(``from neurosim.deep import GAN``):

=================  =====================================================================
module             families
=================  =====================================================================
``perceptron``     P: :class:`Perceptron` (Rosenblatt's rule or gradient descent)
``mlp``            FF: :func:`mlp`
``rbf``            RBF: :class:`RBFNetwork`, the :class:`RBF` layer, :func:`kmeans`
``cnn``            CNN: :func:`lenet`, :func:`feature_maps`
``deconv``         DN: :func:`deconvolutional`, :func:`generate`
``residual``       DRN: :func:`residual_network`, :func:`gradient_norms`
``autoencoder``    AE, VAE, DAE, SAE: :class:`Autoencoder` and its three variants
``gan``            GAN: :class:`GAN`, :func:`dense_gan`, :func:`conv_gan`
``dcign``          DCIGN: :class:`DCIGN`
``capsnet``        CapsNet: :class:`CapsNet`, :func:`capsnet`
``rnn``            RNN, LSTM, GRU, BiRNN: :func:`recurrent_network`, :func:`hidden_states`
``transformer``    AN: :func:`transformer_encoder`, :func:`attention_maps`
``seq2seq``        AN: :class:`Seq2Seq` (an encoder-decoder RNN with additive or
                   multiplicative attention), :func:`alignments`, :func:`reversal_task`,
                   :func:`sorting_task`, :func:`date_task`
``stn``            AN: :class:`SpatialTransformer`, :func:`stn_cnn`,
                   :func:`distorted_digits`, :func:`transformations`
``ntm``            NTM: :class:`NTM`, :func:`copy_task`, :func:`memory_trace`
``dnc``            DNC: :class:`DNC`, :func:`repeat_copy_task`,
                   :func:`associative_recall_task` (``memory_trace`` traces a DNC too)
=================  =====================================================================

As before in ``neurosim.feedforward``, the attributes ``neurosim.deep.mlp`` and
``neurosim.deep.capsnet`` are the builder functions; their modules import by path
(``from neurosim.deep.capsnet import CapsNet``).

The old paths (``neurosim.feedforward`` and its modules, ``neurosim.recurrent``,
``neurosim.attention``, ``neurosim.memory``) still import, with a DeprecationWarning.
"""
from .perceptron import *  # noqa: F401,F403
from .mlp import *  # noqa: F401,F403
from .rbf import *  # noqa: F401,F403
from .cnn import *  # noqa: F401,F403
from .deconv import *  # noqa: F401,F403
from .residual import *  # noqa: F401,F403
from .autoencoder import *  # noqa: F401,F403
from .gan import *  # noqa: F401,F403
from .dcign import *  # noqa: F401,F403
from .capsnet import *  # noqa: F401,F403
from .rnn import *  # noqa: F401,F403
from .transformer import *  # noqa: F401,F403
from .seq2seq import *  # noqa: F401,F403
from .stn import *  # noqa: F401,F403
from .ntm import *  # noqa: F401,F403
from .dnc import *  # noqa: F401,F403

MODULES = ("perceptron", "mlp", "rbf", "cnn", "deconv", "residual", "autoencoder", "gan",
           "dcign", "capsnet", "rnn", "transformer", "seq2seq", "stn", "ntm", "dnc")


def _public():
    import importlib

    names = []
    for module in MODULES:
        names += importlib.import_module(f".{module}", __name__).__all__
    return names


__all__ = _public()
