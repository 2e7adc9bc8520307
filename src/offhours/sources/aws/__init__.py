"""The AWS source: what is left running across accounts and regions.

settings.py   the ``type = "aws"`` table
kinds.py      every kind as one declarative table entry
reading.py    the engine that walks an entry: pages → resources
source.py     the plugin: accounts × regions × kinds
"""

from offhours.sources.aws.source import AwsSource

__all__ = ["AwsSource"]
