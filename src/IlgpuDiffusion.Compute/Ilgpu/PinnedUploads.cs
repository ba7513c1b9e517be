using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using ILGPU;
using ILGPU.Runtime;

namespace IlgpuDiffusion.Ilgpu;

/// <summary>
/// Host-to-device copies that do not wait for the device: the data goes into a page-locked staging chunk, and the copy
/// from there is queued on the device's stream behind the work already queued (so a kernel still reading the
/// target sees the old values, and the next one the new). A chunk is reused only after a synchronization that followed
/// its copy: until then the copy may still be reading it. A training step uploads a handful of small arrays between two
/// synchronizations (its loss read-back), so a few chunks serve every step; when <see cref="MaxChunks"/> are busy, the
/// next upload waits once and reuses them. Uploads above <see cref="MaxBytes"/> (weights, whole corpora) are not staged.
/// Not thread-safe: its device calls it under the device's lock.
/// </summary>
internal sealed class PinnedUploads : IDisposable
{
    /// <summary>
    /// The largest upload staged (a step's ids for 256 sequences of 1,024 tokens); larger ones copy synchronously.
    /// </summary>
    public const int MaxBytes = 1 << 20;

    /// <summary>
    /// Chunks allocated at most before an upload waits for the device to free them: page-locked memory stays below
    /// <see cref="MaxChunks"/> · <see cref="MaxBytes"/> (16 MiB) for the device's lifetime.
    /// </summary>
    public const int MaxChunks = 16;

    private const int MinChunkBytes = 4 << 10;

    private readonly AcceleratorStream _stream;
    private readonly Action _wait;
    private readonly List<Chunk> _chunks = [];

    /// <summary>Staging for the accelerator of <paramref name="stream"/>, whose copies queue there.</summary>
    /// <param name="wait">The device's counted wait for queued work, which must call <see cref="Synchronized"/>.</param>
    public PinnedUploads(AcceleratorStream stream, Action wait)
    {
        _stream = stream;
        _wait = wait;
    }

    /// <summary>
    /// Synchronizations of the accelerator so far, as the device counts them: a chunk whose copy was queued before the
    /// current count was last raised is free.
    /// </summary>
    public long Synchronizations { get; private set; }

    /// <summary>Records a completed synchronization of the accelerator (all queued copies are done).</summary>
    public void Synchronized() => Synchronizations++;

    /// <summary>
    /// Queues target ← source on the device's stream without waiting, through a free chunk; waits for the
    /// device only when every chunk is busy.
    /// </summary>
    public void Upload<T>(ArrayView<T> target, ReadOnlySpan<T> source) where T : unmanaged
    {
        int bytes = checked(source.Length * Unsafe.SizeOf<T>());
        var chunk = FreeChunk(bytes);
        MemoryMarshal.AsBytes(source).CopyTo(chunk.Memory.Span);
        target.CopyFrom(_stream, chunk.Memory.ArrayView.SubView(0, bytes).Cast<T>());
        chunk.QueuedAt = Synchronizations;
    }

    private Chunk FreeChunk(int bytes)
    {
        foreach (var chunk in _chunks)
            if (chunk.QueuedAt < Synchronizations && chunk.Memory.Length >= bytes) return chunk;
        if (_chunks.Count >= MaxChunks)
        {
            _wait();
            var largest = _chunks.MaxBy(c => c.Memory.Length)!;
            if (largest.Memory.Length >= bytes) return largest;
            _chunks.Remove(largest);
            largest.Memory.Dispose();
        }
        int size = Math.Max(MinChunkBytes, (int)BitOperations.RoundUpToPowerOf2((uint)bytes));
        var allocated = new Chunk(_stream.Accelerator.AllocatePageLocked1D<byte>(size, uninitialized: true));
        _chunks.Add(allocated);
        return allocated;
    }

    /// <summary>Frees the chunks; the device has synchronized first (no copy reads them any more).</summary>
    public void Dispose()
    {
        foreach (var chunk in _chunks) chunk.Memory.Dispose();
        _chunks.Clear();
    }

    private sealed class Chunk(PageLockedArray1D<byte> memory)
    {
        public PageLockedArray1D<byte> Memory { get; } = memory;

        /// <summary>The value of <see cref="Synchronizations"/> when its last copy was queued (−1: never used).</summary>
        public long QueuedAt { get; set; } = -1;
    }
}
