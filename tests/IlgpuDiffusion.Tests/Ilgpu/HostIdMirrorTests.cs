using IlgpuDiffusion.Compute;
using IlgpuDiffusion.Ilgpu;
using IlgpuDiffusion.Tests.Conformance;
using Xunit;

namespace IlgpuDiffusion.Tests.Ilgpu;

/// <summary>
/// The host's record of an int buffer's values: ids the host uploaded are checked without a read-back (no wait for the
/// device), ids a device op wrote are read back, and bad ids are refused either way.
/// </summary>
[Collection(ConformanceCollection.Name)]
public sealed class HostIdMirrorTests
{
    [Fact]
    public void The_known_range_grows_with_touching_copies_and_restarts_with_a_distant_one()
    {
        var mirror = new HostIdMirror(100);
        Assert.True(mirror.TryGet(5, 0, out _));
        Assert.False(mirror.TryGet(0, 1, out _));
        mirror.Record(10, [1, 2, 3]);
        mirror.Record(13, [4, 5]);
        mirror.Record(8, [6, 7]);
        Assert.True(mirror.TryGet(8, 7, out var values));
        Assert.Equal([6, 7, 1, 2, 3, 4, 5], values.ToArray());
        Assert.False(mirror.TryGet(7, 2, out _));
        Assert.False(mirror.TryGet(14, 2, out _));
        mirror.Record(50, [9]);
        Assert.False(mirror.TryGet(10, 1, out _));
        Assert.True(mirror.TryGet(50, 1, out values));
        Assert.Equal(9, values[0]);
        mirror.Forget();
        Assert.False(mirror.TryGet(50, 1, out _));
    }

    [Fact]
    public void Uploaded_ids_are_checked_without_waiting_for_the_device()
    {
        var device = TestBackends.Get("ilgpu-cpu");
        using var table = device.Upload<float>(Numerics.Random(4 * 3, 1), new Shape(4, 3));
        using var rows = device.AllocateTensor<float>(new Shape(2, 3));
        using var indices = device.Upload<int>([3, 1], new Shape(2));
        long before = device.HostWaits;
        device.Kernels.GatherRows(table, indices, rows, 2, 3, 4);
        device.Kernels.EmbeddingForward(indices, table, rows, 2, 4, 3);
        Assert.Equal(before, device.HostWaits);

        indices.CopyFrom([1, 4]);
        before = device.HostWaits;
        Assert.Throws<ArgumentOutOfRangeException>(() => device.Kernels.GatherRows(table, indices, rows, 2, 3, 4));
        Assert.Throws<ArgumentOutOfRangeException>(() => device.Kernels.EmbeddingForward(indices, table, rows, 2, 4, 3));
        Assert.Equal(before, device.HostWaits);
    }

    [Fact]
    public void Ids_a_device_op_wrote_are_read_back_and_checked()
    {
        var device = TestBackends.Get("ilgpu-cpu");
        using var indices = device.Upload<int>([0, 1], new Shape(2));
        // Row maxima at classes 4 and 0: the argmax overwrites the uploaded (valid) ids with 4 and 0.
        using var logits = device.Upload<float>([0, 1, 2, 3, 9, 9, 1, 2, 3, 4], new Shape(2, 5));
        device.Kernels.Argmax(logits, indices, 2, 5, 5);
        using var table = device.Upload<float>(Numerics.Random(3 * 2, 2), new Shape(3, 2));
        using var rows = device.AllocateTensor<float>(new Shape(2, 2));
        long before = device.HostWaits;
        var refused = Assert.Throws<ArgumentOutOfRangeException>(() => device.Kernels.GatherRows(table, indices, rows, 2, 2, 3));
        Assert.Contains("= 4", refused.Message);
        Assert.Equal(before + 1, device.HostWaits);
        Assert.Equal([4, 0], indices.ToArray());
    }

    [Fact]
    public void Bounded_positions_decide_checks_within_their_bound_and_defer_to_a_read_back_beyond_it()
    {
        var mirror = new HostIdMirror(10);
        mirror.Record(0, [1, 2, 3, 4]);
        mirror.Bound(0, [1, 3], bound: 6);
        Assert.False(mirror.TryGet(0, 4, out _));
        Assert.True(mirror.TryGet(0, 1, out _));
        Assert.True(mirror.TryCheck(0, 4, limit: 6, forbidden: -1, out int invalid));
        Assert.Equal(-1, invalid);
        Assert.False(mirror.TryCheck(0, 4, limit: 5, forbidden: -1, out _)); // a bounded id may be 5
        Assert.False(mirror.TryCheck(0, 4, limit: 6, forbidden: 2, out _));  // ... or the forbidden 2
        Assert.True(mirror.TryCheck(0, 4, limit: 6, forbidden: 7, out invalid));
        Assert.True(mirror.TryCheck(2, 1, limit: 3, forbidden: -1, out invalid)); // the known 3 is out of [0, 3)
        Assert.Equal(0, invalid);
        Assert.False(mirror.TryCheck(3, 2, limit: 9, forbidden: -1, out _)); // position 4 was never known

        mirror.Record(1, [5]); // a copy makes the value known again
        Assert.True(mirror.TryCheck(0, 2, limit: 6, forbidden: 2, out invalid));
        Assert.Equal(-1, invalid);
        mirror.Bound(0, [5], bound: 6); // outside the known range: nothing is known
        Assert.False(mirror.TryCheck(0, 1, limit: 9, forbidden: -1, out _));
    }

    [Fact]
    public void Ids_scattered_on_the_device_are_checked_without_waiting_until_their_bound_exceeds_the_check()
    {
        var device = TestBackends.Get("ilgpu-cpu");
        using var tokens = device.Upload<int>([2, 2, 2, 2], new Shape(4));
        using var drawn = device.Upload<int>([0, 1], new Shape(2));
        using var logits = device.Upload<float>([0, 5, 1, /* row 2 */ 7, 0, 1], new Shape(2, 3));
        device.Kernels.Argmax(logits, drawn, 2, 3, 3); // drawn on the device: 1, 0
        using var rows = device.Upload<int>([3, 0], new Shape(2));
        using var table = device.Upload<float>(Numerics.Random(4 * 2, 3), new Shape(4, 2));
        using var embedded = device.AllocateTensor<float>(new Shape(4, 2));
        long before = device.HostWaits;
        device.Kernels.ScatterIds(drawn, rows, tokens, 2, 4, limit: 3, replacement: 3);
        device.Kernels.EmbeddingForward(tokens, table, embedded, 4, 4, 2); // ids below 4: no read-back
        Assert.Equal(before, device.HostWaits);

        // A table of 3 rows: the scattered ids may be 3 (the replacement), so the check reads them back, and they pass.
        using var smaller = device.Upload<float>(Numerics.Random(3 * 2, 4), new Shape(3, 2));
        device.Kernels.EmbeddingForward(tokens, smaller, embedded, 4, 3, 2);
        Assert.Equal(before + 1, device.HostWaits);
        Assert.Equal([0, 2, 2, 1], tokens.ToArray());
    }
}
