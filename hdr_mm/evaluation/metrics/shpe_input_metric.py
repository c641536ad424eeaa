"""Scores of one extra SHPE input of the HDR pipeline, by ordinary
metrics."""
from typing import List, Optional, Sequence, Union

from mmengine.evaluator import BaseMetric
from mmpose.registry import METRICS

#: the pipeline's per-input fields (``HDRPoseEstimator``'s
#: ``extra_shpe_inputs``: ``<field>_<input>``) -> the field metrics read
INPUT_FIELDS = ('pred_instances', 'tdr_crops')


@METRICS.register_module()
class SHPEInputMetric(BaseMetric):
    """Run metrics on what SHPE gave for one of the pipeline's extra
    inputs.

    :class:`~hdr_mm.models.HDRPoseEstimator` with ``extra_shpe_inputs``
    feeds SHPE several inputs in one pass (e.g. TDR's output, the raw
    crops and each hand rendered alone) and stores each extra input's
    results as ``pred_instances_<input>`` and ``tdr_crops_<input>``. This
    metric shows its ``metrics`` every sample with those two in place of
    ``pred_instances`` and ``tdr_crops``, so any metric of the main
    input (mmpose's included) scores the extra one unchanged. mmengine's
    ``Evaluator`` has no such per-field view, hence this wrapper.

    Its keys are those of ``metrics``, prefixed ``<prefix>/`` (default
    ``<input>``).

    Args:
        shpe_input: The extra input, e.g. ``'crop'``.
        metrics: Configs (or instances) of the metrics to run.
        collect_device: See :class:`mmengine.evaluator.BaseMetric`.
        prefix: Prefix of the keys; None: ``shpe_input``.
    """

    def __init__(self,
                 shpe_input: str,
                 metrics: Sequence[Union[dict, BaseMetric]],
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = None) -> None:
        super().__init__(
            collect_device=collect_device, prefix=prefix or shpe_input)
        if not metrics:
            raise ValueError(f'SHPEInputMetric({shpe_input!r}): metrics is '
                             'empty')
        self.shpe_input = shpe_input
        self.metrics: List[BaseMetric] = [
            METRICS.build(m) if isinstance(m, dict) else m for m in metrics
        ]

    @property
    def dataset_meta(self) -> Optional[dict]:
        """The dataset's meta information, passed on to ``metrics``."""
        return self._dataset_meta

    @dataset_meta.setter
    def dataset_meta(self, dataset_meta: dict) -> None:
        self._dataset_meta = dataset_meta
        for metric in self.metrics:
            metric.dataset_meta = dataset_meta

    def process(self, data_batch, data_samples: Sequence[dict]) -> None:
        """Give ``metrics`` the batch with this input's results in place.

        Args:
            data_batch: Passed on.
            data_samples: The pipeline's outputs as dicts.

        Raises:
            KeyError: a sample without this input's results.
        """
        views = []
        for i, sample in enumerate(data_samples):
            view = dict(sample)
            for field in INPUT_FIELDS:
                key = f'{field}_{self.shpe_input}'
                if key not in sample:
                    raise KeyError(
                        f'SHPEInputMetric: data sample {i} has no {key!r}; '
                        'the model needs extra_shpe_inputs=[..., '
                        f'{self.shpe_input!r}]')
                view[field] = sample[key]
            views.append(view)
        for metric in self.metrics:
            metric.process(data_batch, views)

    def compute_metrics(self, results: list) -> dict:
        """Not used: :meth:`evaluate` lets each metric compute its own."""
        raise NotImplementedError(
            'SHPEInputMetric.evaluate gathers the results of its metrics')

    def evaluate(self, size: int) -> dict:
        """Each metric's results, keys prefixed.

        Args:
            size: Length of the whole dataset.

        Returns:
            dict: ``<prefix>/<key>`` -> value.
        """
        out = {}
        for metric in self.metrics:
            out.update(metric.evaluate(size))
        return {f'{self.prefix}/{k}': v for k, v in out.items()}
