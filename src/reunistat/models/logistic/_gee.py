"""statsmodels' GEE without the rank of the design it computes and then discards.

``GEE`` is a ``GLM``, whose ``initialize`` sets ``df_model`` from
``np.linalg.matrix_rank(exog)``: an SVD of the whole n x k design (about
0.1 s at national size). ``GEE.__init__`` then overwrites ``df_model`` and
``df_resid`` from the number of columns ("column based, not on rank", its
comment says), and nothing in between reads them, so the SVD changes nothing.
This module is imported only when a GEE is fitted (statsmodels is slow to import).
"""

from __future__ import annotations

from statsmodels.genmod.generalized_estimating_equations import GEE


class ColumnRankGEE(GEE):
    """``GEE`` whose ``initialize`` counts columns instead of computing the design's rank."""

    def initialize(self) -> None:
        """``GLM.initialize`` with the column count for the rank.

        ``GEE.__init__`` then sets ``df_model`` and ``df_resid`` from the column count itself.
        """
        self.df_model = self.exog.shape[1] - 1
        weights = self.freq_weights  # None here: GLM fills it in after initialize
        if weights is not None and weights.shape[0] == self.endog.shape[0]:
            self.wnobs = weights.sum()
            self.df_resid = self.wnobs - self.df_model - 1
        else:
            self.wnobs = self.exog.shape[0]
            self.df_resid = self.exog.shape[0] - self.df_model - 1
