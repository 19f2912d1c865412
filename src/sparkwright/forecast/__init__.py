"""Many time series, one model per series: regular series, statistical models, rolling-origin backtests and
forecasts with prediction intervals, fitted on the executors with ``applyInPandas`` (one task per group of
series). The pandas side (:mod:`.series`) runs on the workers and knows nothing of Spark; :mod:`.engine` is
the Spark side. :mod:`.global_model` is the one model over every series (``type: gbt``), on the rows
:mod:`.global_features` computes in Spark windows."""
