using IlgpuDiffusion.Compute;
using Xunit;

namespace IlgpuDiffusion.Tests.Compute;

/// <summary>
/// Host copies land in the managed arrays they were given while the garbage collector compacts the heap: an ILGPU
/// device must keep the host span pinned for the whole copy. ILGPU's copy overloads that take <c>ref T</c> expect an
/// already pinned address; given an unpinned array they copied to or from where a collection had just moved it from,
/// leaving the array as it was (zeros) and writing over the heap: all-zero logits and gradients from the ILGPU
/// emulator rows, and access violations, in the test suite on a loaded machine. With that copy, this test saw about
/// 80 wrong copies in 20,000.
/// </summary>
public sealed class HostCopyPinningTests
{
    /// <summary>Small-object-heap arrays (64 KB), which a gen-0 collection moves when it compacts.</summary>
    private const int Length = 16 * 1024;

    [Theory]
    [InlineData("cpu")]
    [InlineData("ilgpu-cpu")]
    public void Copies_to_and_from_the_host_land_in_arrays_that_collections_move(string backend)
    {
        using Device device = Device.Create(backend);
        var expected = Enumerable.Range(1, Length).Select(i => (float)i).ToArray();
        using var tensor = device.Upload<float>(expected, new Shape(Length));
        using var stop = new CancellationTokenSource();
        int collections = 0;
        var collector = new Thread(() =>
        {
            while (!stop.IsCancellationRequested)
            {
                _ = new byte[4096]; // garbage between the copies' arrays, so that compaction moves them
                GC.Collect(0, GCCollectionMode.Forced, blocking: true, compacting: true);
                Interlocked.Increment(ref collections);
                Thread.Sleep(1); // room for the copies between collections
            }
        })
        { IsBackground = true };
        collector.Start();
        int rounds = 0, wrongReads = 0, wrongWrites = 0;
        bool Enough() => rounds >= 1000 && Volatile.Read(ref collections) >= 100;
        try
        {
            // At least 2 s, and on until enough rounds and collections have happened (a loaded machine runs fewer of
            // both per second), for at most 20 s.
            var started = DateTime.UtcNow;
            for (; DateTime.UtcNow - started < TimeSpan.FromSeconds(Enough() ? 2 : 20); rounds++)
            {
                var read = new float[Length];
                tensor.Buffer.CopyToHost(0, read);
                if (!read.AsSpan().SequenceEqual(expected)) wrongReads++;

                var written = new float[Length];
                expected.CopyTo(written);
                written[rounds % Length] = -1f;
                tensor.Buffer.CopyFromHost(0, written);
                if (tensor.ToArray()[rounds % Length] != -1f) wrongWrites++;
                tensor.Buffer.CopyFromHost(0, expected);
            }
        }
        finally
        {
            stop.Cancel();
            collector.Join();
        }
        Assert.Equal((0, 0), (wrongReads, wrongWrites));
        Assert.True(Enough(),
            $"Too little happened to test anything: {rounds} rounds, {collections} collections.");
    }
}
