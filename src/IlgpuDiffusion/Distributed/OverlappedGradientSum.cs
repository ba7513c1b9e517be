using IlgpuDiffusion.Compute;
using IlgpuDiffusion.Cpu;

namespace IlgpuDiffusion.Distributed;

/// <summary>
/// The sum of a gradient arena over the ranks of a <see cref="DataParallelGroup"/>, started block by block while the last
/// micro-batch's backward pass still runs (docs/data-parallel.md §8). The arena is summed as a fixed sequence of pieces, the
/// same on every rank: the model's blocks in the order backward finishes them (last to first), then what lies outside them
/// (embeddings, output layer). A sum thread takes each block as soon as <see cref="BlockFinished"/> reports it;
/// <see cref="Finish"/> releases whatever was not reported (a micro-batch with no backward, another device) and waits for the
/// sequence. The CPU backend's kernels have finished when they return, so its blocks overlap; on other devices, or with
/// <c>ILGPU_DIFFUSION_OVERLAP=off</c> on any rank, every rank sums the whole arena at <see cref="Finish"/>. Each element still
/// adds the ranks' copies in rank order, so overlapping changes no bit.
/// </summary>
internal sealed class OverlappedGradientSum : IDisposable
{
    /// <summary>The environment variable that, set to <c>off</c>, sums every gradient after the backward pass.</summary>
    public const string DisableVariable = "ILGPU_DIFFUSION_OVERLAP";

    private readonly DataParallelGroup _group;
    private readonly Tensor<float> _arena;
    private readonly (int Offset, int Length)[] _pieces;
    private readonly int _blocks;
    private readonly SemaphoreSlim _ready = new(0), _done = new(0);
    private readonly Thread? _thread;
    private int _released;
    private bool _armed, _stopping;
    private Exception? _failure;

    /// <summary>
    /// Prepares the sums of <paramref name="arena"/> for <paramref name="group"/>, whose model's blocks occupy
    /// <paramref name="blocks"/> (offset and length in the arena, block 0 first). Every rank must build it together.
    /// </summary>
    public OverlappedGradientSum(DataParallelGroup group, Tensor<float> arena, IReadOnlyList<(long Offset, long Length)> blocks)
    {
        _group = group;
        _arena = arena;
        bool here = arena.Buffer is CpuBuffer<float>
            && !string.Equals(Environment.GetEnvironmentVariable(DisableVariable), "off", StringComparison.OrdinalIgnoreCase);
        Overlaps = group.Size > 1 && group.OnEveryRank(here);
        _pieces = Overlaps ? Pieces(checked((int)arena.Length), blocks) : [(0, checked((int)arena.Length))];
        _blocks = Overlaps ? blocks.Count : 0;
        if (!Overlaps) return;
        group.GradientSums += ", each block's as soon as the backward pass has finished it";
        _thread = new Thread(SumPieces) { IsBackground = true, Name = "gradient sums" };
        _thread.Start();
    }

    /// <summary>Whether blocks are summed while backward runs (every rank agreed).</summary>
    public bool Overlaps { get; }

    /// <summary>Expects the blocks of the coming backward pass, the step's last on this rank.</summary>
    public void Arm() => _armed = Overlaps;

    /// <summary>Block <paramref name="layer"/>'s gradients are final: its sum may start. Ignored unless armed.</summary>
    /// <exception cref="InvalidOperationException">Blocks were reported out of the order last to first.</exception>
    public void BlockFinished(int layer)
    {
        if (!_armed) return;
        int expected = _blocks - 1 - _released;
        if (layer != expected)
            throw new InvalidOperationException($"Block {layer}'s gradients were reported where block {expected}'s were expected.");
        Release(1);
    }

    /// <summary>Sums what is left and waits until the whole arena holds the sum on this rank.</summary>
    /// <exception cref="InvalidOperationException">A sum failed.</exception>
    public void Finish()
    {
        _armed = false;
        if (!Overlaps)
        {
            _group.SumInRankOrder(_arena);
            return;
        }
        Release(_pieces.Length - _released);
        _done.Wait();
        _released = 0;
        if (_failure is { } failure) throw new InvalidOperationException($"The gradient sum failed: {failure.Message}", failure);
    }

    private void Release(int pieces)
    {
        _released += pieces;
        _ready.Release(pieces);
    }

    private void SumPieces()
    {
        while (true)
        {
            for (int piece = 0; piece < _pieces.Length; piece++)
            {
                _ready.Wait();
                if (_stopping) return;
                if (_failure is not null) continue;
                try
                {
                    var (offset, length) = _pieces[piece];
                    _group.SumInRankOrder(_arena.Slice(offset, length));
                }
                catch (Exception e)
                {
                    _failure = e;
                }
            }
            _done.Release();
        }
    }

    /// <summary>The blocks last to first, then the gaps around them in arena order.</summary>
    private static (int, int)[] Pieces(int length, IReadOnlyList<(long Offset, long Length)> blocks)
    {
        var pieces = new List<(int, int)>();
        for (int b = blocks.Count - 1; b >= 0; b--) pieces.Add((checked((int)blocks[b].Offset), checked((int)blocks[b].Length)));
        int covered = 0;
        foreach (var (offset, size) in blocks.OrderBy(block => block.Offset))
        {
            if (offset < covered) throw new ArgumentException("The model's blocks overlap in the gradient arena.", nameof(blocks));
            if (offset > covered) pieces.Add((covered, (int)offset - covered));
            covered = checked((int)(offset + size));
        }
        if (covered < length) pieces.Add((covered, length - covered));
        return [.. pieces];
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        if (_thread is null || _stopping) return;
        _stopping = true;
        _ready.Release();
        _thread.Join();
        _ready.Dispose();
        _done.Dispose();
    }
}
