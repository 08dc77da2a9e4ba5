from pipeline.batching import batched


def test_batches_close_at_their_size_or_before_their_weight_would_pass_the_bound():
    assert list(batched(range(7), 3)) == [[0, 1, 2], [3, 4, 5], [6]]
    words = ["aa", "bbbb", "c", "dddddddddd", "ee", "f"]
    assert list(batched(words, 10, max_weight=6)) == [["aa", "bbbb"], ["c"], ["dddddddddd"], ["ee", "f"]]
    assert list(batched([], 4, max_weight=1)) == []
