"""`uuid4_text` gives what `str(uuid.uuid4())` gives."""

from __future__ import annotations

import uuid

from shared.ids import uuid4_text


def test_a_text_id_is_a_random_uuid_in_its_canonical_form() -> None:
    made = [uuid4_text() for _ in range(2000)]
    for text in made:
        parsed = uuid.UUID(text)
        assert str(parsed) == text  # canonical: lower-case hex, hyphens at 8-4-4-4-12
        assert parsed.version == 4
        assert parsed.variant == uuid.RFC_4122
    assert len(set(made)) == len(made)
    # every one of the 122 random bits varies (the fixed six do not)
    ints = [uuid.UUID(t).int for t in made]
    varying = 0
    for bit in range(128):
        if len({(i >> bit) & 1 for i in ints}) == 2:
            varying += 1
    assert varying == 122
