namespace IlgpuDiffusion.Compute;

/// <summary>
/// Plans named tensors, then carves them all from one allocation. Parameters, gradients,
/// optimizer moments and activations each come from one arena sized once per
/// (config, batch, length). Each tensor starts on a 64-byte boundary.
/// </summary>
public sealed class ArenaLayout<T> where T : unmanaged
{
    /// <summary>Tensors start at multiples of this many elements.</summary>
    public static readonly int Alignment = Math.Max(1, 64 / System.Runtime.CompilerServices.Unsafe.SizeOf<T>());

    private readonly List<(string Name, Shape Shape, long Offset)> _entries = [];
    private readonly Dictionary<string, int> _byName = [];

    /// <summary>Total elements needed, padding included.</summary>
    public long Length { get; private set; }

    /// <summary>Number of planned tensors.</summary>
    public int Count => _entries.Count;

    /// <summary>Plans a tensor and returns its slot number (use it to fetch the view after <see cref="Allocate"/>).</summary>
    public int Add(string name, Shape shape) => Add(name, shape, shape.Length);

    /// <summary>
    /// Plans a tensor followed by room to grow: <paramref name="capacity"/> elements are kept from its start (zero after
    /// allocation, like all padding), so a wider view of the same start fits, e.g. a weight matrix with zero rows added.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="capacity"/> is less than the tensor's length.</exception>
    public int Add(string name, Shape shape, long capacity)
    {
        if (_byName.ContainsKey(name))
            throw new ArgumentException($"The arena already has a tensor named '{name}'.", nameof(name));
        if (capacity < shape.Length)
            throw new ArgumentOutOfRangeException(nameof(capacity),
                $"Tensor '{name}' holds {shape.Length} elements; its capacity {capacity} is smaller.");
        long offset = (Length + Alignment - 1) / Alignment * Alignment;
        _entries.Add((name, shape, offset));
        _byName[name] = _entries.Count - 1;
        Length = offset + capacity;
        return _entries.Count - 1;
    }

    /// <summary>Allocates one buffer on <paramref name="device"/> and carves every planned tensor from it.</summary>
    public Arena<T> Allocate(Device device)
    {
        var buffer = device.Allocate<T>(Math.Max(1, Length));
        var tensors = new Tensor<T>[_entries.Count];
        for (int i = 0; i < tensors.Length; i++)
            tensors[i] = new Tensor<T>(buffer, _entries[i].Offset, _entries[i].Shape);
        return new Arena<T>(buffer, tensors, new Dictionary<string, int>(_byName), Length);
    }
}

/// <summary>One allocation carved into named tensor views. Disposing frees the whole block.</summary>
public sealed class Arena<T> : IDisposable where T : unmanaged
{
    private readonly Tensor<T>[] _tensors;
    private readonly Dictionary<string, int> _byName;

    internal Arena(DeviceBuffer<T> buffer, Tensor<T>[] tensors, Dictionary<string, int> byName, long length)
    {
        Buffer = buffer;
        _tensors = tensors;
        _byName = byName;
        All = new Tensor<T>(buffer, 0, new Shape(checked((int)Math.Max(1, length))));
    }

    /// <summary>The whole block, padding included (e.g. to zero all gradients in one call).</summary>
    public Tensor<T> All { get; }

    /// <summary>The backing buffer.</summary>
    public DeviceBuffer<T> Buffer { get; }

    /// <summary>Number of tensors.</summary>
    public int Count => _tensors.Length;

    /// <summary>The tensor in <paramref name="slot"/> (as returned by <see cref="ArenaLayout{T}.Add(string, Shape)"/>).</summary>
    public Tensor<T> this[int slot] => _tensors[slot];

    /// <summary>The tensor named <paramref name="name"/>.</summary>
    public Tensor<T> this[string name] => _byName.TryGetValue(name, out int slot)
        ? _tensors[slot]
        : throw new KeyNotFoundException($"The arena has no tensor named '{name}'.");

    /// <summary>Names of all tensors, in planning order.</summary>
    public IEnumerable<string> Names => _byName.OrderBy(kv => kv.Value).Select(kv => kv.Key);

    /// <inheritdoc/>
    public void Dispose() => Buffer.Dispose();
}
