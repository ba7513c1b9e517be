using IlgpuDiffusion.Compute;

namespace IlgpuDiffusion.Models;

/// <summary>
/// A model's parameters carved from one arena: named tensors in module order, each a view at a fixed offset. The
/// same layout holds gradients, Adam moments and EMA weights, so any of them is updated with one kernel call over
/// <see cref="All"/>, and a checkpoint stores every group under the same names.
/// </summary>
/// <typeparam name="TConfig">The model config the layout is derived from.</typeparam>
public abstract class NamedParameters<TConfig> : IDisposable where TConfig : notnull
{
    private readonly Arena<float> _arena;
    private readonly (string Name, Shape Shape)[] _entries;

    /// <summary>Wraps <paramref name="arena"/>, allocated by <see cref="AllocateArena"/> from <paramref name="entries"/>.</summary>
    protected NamedParameters(TConfig config, Arena<float> arena, (string Name, Shape Shape)[] entries)
    {
        Config = config;
        _arena = arena;
        _entries = entries;
    }

    /// <summary>The model shape these tensors belong to.</summary>
    public TConfig Config { get; }

    /// <summary>The whole arena (alignment padding included, always zero): one call updates every tensor.</summary>
    public Tensor<float> All => _arena.All;

    /// <summary>Names and shapes (our layouts) of every tensor, in module order.</summary>
    public IReadOnlyList<(string Name, Shape Shape)> Entries => _entries;

    /// <summary>The tensor named <paramref name="name"/>.</summary>
    public Tensor<float> this[string name] => _arena[name];

    /// <summary>Copies every tensor of <paramref name="source"/> (same tensor shapes, same device) into this set.</summary>
    public void CopyFrom(NamedParameters<TConfig> source)
    {
        ArgumentNullException.ThrowIfNull(source);
        if (!source._entries.SequenceEqual(_entries))
            throw new ArgumentException($"Cannot copy parameters of {source.Config} into {Config}: the tensor shapes differ.",
                nameof(source));
        if (source.All.Device != All.Device)
            throw new ArgumentException("Parameters can only be copied on one device; copy through the host or a checkpoint.",
                nameof(source));
        All.Device.Kernels.Copy(source.All, All, (int)All.Length);
    }

    /// <summary>Sets every element (padding included) to <paramref name="value"/>.</summary>
    public void Fill(float value) => All.Device.Kernels.Fill(All, value, (int)All.Length);

    /// <inheritdoc/>
    public void Dispose() => _arena.Dispose();

    /// <summary>
    /// Allocates a zero-filled arena holding <paramref name="entries"/> in order on <paramref name="device"/>, each tensor
    /// named in <paramref name="capacities"/> followed by zeros up to that many elements (see
    /// <see cref="ArenaLayout{T}.Add(string, Shape, long)"/>).
    /// </summary>
    /// <exception cref="ArgumentException">The arena would be longer than kernels can index.</exception>
    protected static Arena<float> AllocateArena((string Name, Shape Shape)[] entries, Device device,
        IReadOnlyDictionary<string, long>? capacities = null)
    {
        var layout = new ArenaLayout<float>();
        foreach (var (name, shape) in entries)
            layout.Add(name, shape, capacities is not null && capacities.TryGetValue(name, out long capacity) ? capacity : shape.Length);
        if (layout.Length > int.MaxValue)
            throw new ArgumentException($"The parameters of this config need {layout.Length} floats; " +
                $"kernels index at most {int.MaxValue}.");
        return layout.Allocate(device);
    }
}
