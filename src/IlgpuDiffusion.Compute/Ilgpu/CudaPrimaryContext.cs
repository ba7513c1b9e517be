namespace IlgpuDiffusion.Ilgpu;

/// <summary>
/// The primary context of one CUDA device, retained while this lives, with one buffer of device memory in it that grows to
/// the largest size asked. NCCL works in a device's primary context (the CUDA runtime's: NCCL makes it current with
/// <c>cudaSetDevice</c> inside its calls), whereas ILGPU gives each accelerator a context of its own, and CUDA keeps the
/// resources of each context to that context, as a CPU process keeps its memory. NCCL therefore sums in this buffer, and
/// the data crosses between the two contexts by <see cref="CudaDriver.CopyBetweenContexts"/>.
/// </summary>
internal sealed class CudaPrimaryContext : IDisposable
{
    private readonly CudaDriver _driver;
    private readonly int _ordinal;
    private nint _buffer;
    private long _bufferBytes;
    private bool _released;

    /// <summary>Retains the primary context of CUDA device <paramref name="ordinal"/>.</summary>
    public CudaPrimaryContext(CudaDriver driver, int ordinal)
    {
        _driver = driver;
        _ordinal = ordinal;
        Handle = driver.RetainPrimaryContext(ordinal);
    }

    /// <summary>The context (a <c>CUcontext</c>).</summary>
    public nint Handle { get; }

    /// <summary>
    /// Makes this context current to the calling thread until the returned scope is disposed, which makes the context that
    /// was current before current again (also after calls, like NCCL's, that change the current context themselves).
    /// </summary>
    public CurrentScope MakeCurrent()
    {
        nint previous = _driver.CurrentContext;
        _driver.CurrentContext = Handle;
        return new CurrentScope(_driver, previous);
    }

    /// <summary>The buffer, at least <paramref name="bytes"/> long; call with this context current.</summary>
    public nint Buffer(long bytes)
    {
        if (bytes <= _bufferBytes) return _buffer;
        if (_buffer != 0) _driver.Free(_buffer);
        (_buffer, _bufferBytes) = (0, 0);
        _buffer = _driver.Allocate(bytes);
        _bufferBytes = bytes;
        return _buffer;
    }

    /// <summary>Frees the buffer and releases the context.</summary>
    public void Dispose()
    {
        if (_released) return;
        _released = true;
        if (_buffer != 0)
        {
            using (MakeCurrent()) _driver.Free(_buffer);
            (_buffer, _bufferBytes) = (0, 0);
        }
        _driver.ReleasePrimaryContext(_ordinal);
    }

    /// <summary>Restores the context current before <see cref="MakeCurrent"/>.</summary>
    public readonly ref struct CurrentScope(CudaDriver driver, nint previous)
    {
        /// <summary>Makes the previous context current again.</summary>
        public void Dispose() => driver.CurrentContext = previous;
    }
}
