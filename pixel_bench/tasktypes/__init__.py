"""Task types: the shared logic behind every task adapter (``tasks/*.py`` are thin).

* :class:`SequenceClassificationTask` — single sentences and pairs, regression (STS-B)
* :class:`TokenClassificationTask` — words rendered one per patch run, first patch labelled
* :class:`DependencyParsingTask` — UD heads and relations, PIXEL's biaffine head, UAS/LAS
* :class:`QuestionAnsweringTask` — question+context windows, start/end patches, n-best spans
* :class:`GenerativeTask` — zero-shot generation read back by OCR (LAMBADA, bAbI)
"""

from .base import EncodedSplit, FeatureDataset, Task
from .generative import GenerativeTask
from .parsing import DependencyParsingTask
from .qa import QuestionAnsweringTask
from .seqcls import SequenceClassificationTask
from .tokcls import TokenClassificationTask

__all__ = ["DependencyParsingTask", "EncodedSplit", "FeatureDataset", "GenerativeTask", "QuestionAnsweringTask",
           "SequenceClassificationTask", "Task", "TokenClassificationTask"]
