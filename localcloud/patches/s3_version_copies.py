"""S3: the copies ListObjectVersions makes are freed after the answer, so emptying a big versioned bucket does
not run the local cloud out of memory.

moto 5.2.5's `list_object_versions` deep-copies every version of every key in the bucket on every call
(one page of 1,000 at most), value included, and moto's `BaseModel.__new__` appends every instance it
creates, copies too, to `cls.instances_tracked`, a list only `reset()` reads and nothing ever shrinks. So each
page kept a whole copy of the bucket: after the perf suite, Terraform's force_destroy of the renders bucket
(list a page, delete it, repeat) grew the server past 23 GB until the kernel killed it; the destroy failed.

A copy is made through `__setstate__` (deepcopy, pickle); nothing in moto creates a stored key that way. The
copy, and every model copied with it (its ACL's FakeAcl/FakeGrant/FakeGrantee, a delete marker, a multipart
upload), is taken off its class's tracking list there, so it is freed, a key's buffer closed by
`FakeKey.__del__`, once the answer is written. ListObjectVersions itself no longer copies
(s3_version_listing.py); this stays for any other copy of a stored key.
"""

from __future__ import annotations

import threading
from typing import Any

from moto.s3.models import FakeAcl, FakeDeleteMarker, FakeGrant, FakeGrantee, FakeKey, FakeMultipart

_original_key_setstate = FakeKey.__setstate__
_lock = threading.Lock()  # only untracking deletes from the lists; moto only appends (which moves no index)
_SCAN = 512  # the copy was appended moments ago: look for it among the last entries only
# Models a copied key or delete marker holds (test_s3_versions pins the list); none has its own __setstate__.
COPIED_WITH_A_KEY = (FakeDeleteMarker, FakeAcl, FakeGrant, FakeGrantee, FakeMultipart)


def untrack(cls: type, instance: object) -> bool:
    """Take `instance` off `cls.instances_tracked` (searched from the end); True when it was there."""
    tracked = cls.instances_tracked  # type: ignore[attr-defined]
    with _lock:
        end = len(tracked)
        for index in range(end - 1, max(-1, end - 1 - _SCAN), -1):
            if tracked[index] is instance:
                del tracked[index]
                return True
    return False


def _key_setstate(self: FakeKey, state: dict[str, Any]) -> None:
    _original_key_setstate(self, state)
    self.disposed = True  # a copy holds its own buffer, closed by __del__ without the not-disposed warning
    untrack(FakeKey, self)


def _model_setstate(self: object, state: dict[str, Any]) -> None:
    self.__dict__.update(state)  # what copying does when the class has no __setstate__
    untrack(type(self), self)


def apply() -> None:
    FakeKey.__setstate__ = _key_setstate  # type: ignore[method-assign]
    for cls in COPIED_WITH_A_KEY:
        cls.__setstate__ = _model_setstate  # type: ignore[attr-defined]
