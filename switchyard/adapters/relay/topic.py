"""The relay's topics on the broker: created when missing, and watched for a reset.

A topic can vanish under a running relay: a memory-only broker (the embedded
tansu) forgets everything when it restarts, and an operator can delete a topic.
The relay then has to re-derive the topic from the store. Two signs give it away:

- the topic is missing when the relay looks (at each session start, and every
  few seconds while idle); `list_topics` is used because it creates nothing
  (tansu's describe call creates the topics it is asked about);
- the broker acknowledged a message at an offset at or below one it had already
  acknowledged on the same partition: offsets never go back in a live partition,
  so the partition was created anew (a producer re-creates a topic by sending).
"""

from __future__ import annotations

from collections.abc import Iterable

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError, UnknownTopicOrPartitionError, for_code
from aiokafka.structs import RecordMetadata


class Topics:
    """Creates, checks and re-creates the relay's topics through one admin client."""

    def __init__(
        self,
        bootstrap_servers: str,
        names: Iterable[str],
        partitions: int,
        replication_factor: int,
        request_timeout_ms: int,
    ) -> None:
        self._names = tuple(names)
        self._partitions = partitions
        self._replication_factor = replication_factor
        self._admin = AIOKafkaAdminClient(
            bootstrap_servers=bootstrap_servers, request_timeout_ms=request_timeout_ms
        )

    async def start(self) -> None:
        """Connect to the broker (raises a `KafkaError` if it is unreachable)."""
        await self._admin.start()

    async def close(self) -> None:
        """Disconnect from the broker."""
        await self._admin.close()

    async def ensure(self) -> list[str]:
        """Create whichever of the topics is missing; the names of those it created."""
        existing = set(await self._admin.list_topics())
        missing = [name for name in self._names if name not in existing]
        if missing:
            await self._create(missing)
        return missing

    async def recreate(self, name: str) -> None:
        """Delete the topic (whatever a producer put in it) and create it afresh, empty.

        A memory-only tansu keeps what was sent to a topic it never registered, and
        shows it again once the topic is created: such a topic is created first,
        so that deleting it drops that data.
        """
        if not await self._delete(name):
            await self._create([name])
            await self._delete(name)
        await self._create([name])

    async def _delete(self, name: str) -> bool:
        """Delete the topic; whether it existed."""
        response = await self._admin.delete_topics([name])
        for _, code in response.topic_error_codes:
            if code == UnknownTopicOrPartitionError.errno:
                return False
            if code != 0:
                raise for_code(code)(f"deleting topic {name}")
        return True

    async def _create(self, names: list[str]) -> None:
        topics = [NewTopic(n, self._partitions, self._replication_factor) for n in names]
        response = await self._admin.create_topics(topics)
        for _, code, message in response.topic_errors:
            if code not in (0, TopicAlreadyExistsError.errno):
                raise for_code(code)(message)


class AckedOffsets:
    """The highest acknowledged offset per partition of one topic, to notice a reset."""

    def __init__(self) -> None:
        self._highest: dict[int, int] = {}

    def went_back(self, acknowledged: Iterable[RecordMetadata]) -> bool:
        """Record a batch's acknowledgements; whether any is at or below an earlier one."""
        before = dict(self._highest)
        reset = False
        for metadata in acknowledged:
            if metadata.offset <= before.get(metadata.partition, -1):
                reset = True
            if metadata.offset > self._highest.get(metadata.partition, -1):
                self._highest[metadata.partition] = metadata.offset
        return reset
