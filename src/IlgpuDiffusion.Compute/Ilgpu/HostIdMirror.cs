namespace IlgpuDiffusion.Ilgpu;

/// <summary>
/// What the host knows of an int buffer's contents (token ids, row lists, targets): the values of one contiguous range
/// last copied to or from it. Kernels index with ids unchecked, so ops check them on the host first; ids that came
/// from the host are checked here instead of by a read-back that would make the host wait for the device. Ops that
/// write int tensors on the device (<see cref="IlgpuKernels.SampleCategorical"/>, <see cref="IlgpuKernels.Argmax"/>)
/// forget the buffer's range, and the next check reads those ids back. Used under the device's lock.
/// </summary>
internal sealed class HostIdMirror(long bufferLength)
{
    private int[] _values = [];
    private long _start, _end; // the known range [_start, _end); empty when equal

    /// <summary>Values [offset, offset + values.Length) were copied to or from the buffer.</summary>
    public void Record(long offset, ReadOnlySpan<int> values)
    {
        long end = offset + values.Length;
        if (values.IsEmpty) return;
        if (_values.Length < end) Array.Resize(ref _values, checked((int)Math.Min(Math.Max(end, 2L * _values.Length), bufferLength)));
        values.CopyTo(_values.AsSpan(checked((int)offset)));
        bool joins = _start < _end && offset <= _end && end >= _start;
        (_start, _end) = joins ? (Math.Min(_start, offset), Math.Max(_end, end)) : (offset, end);
    }

    /// <summary>A device op wrote the buffer: nothing of it is known any more.</summary>
    public void Forget() => _end = _start;

    /// <summary>The values [offset, offset + count) when all of them are known.</summary>
    public bool TryGet(long offset, int count, out ReadOnlySpan<int> values)
    {
        bool known = count == 0 || (offset >= _start && offset + count <= _end);
        values = known && count > 0 ? _values.AsSpan(checked((int)offset), count) : default;
        return known;
    }
}
