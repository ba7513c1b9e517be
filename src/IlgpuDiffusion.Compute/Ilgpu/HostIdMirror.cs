namespace IlgpuDiffusion.Ilgpu;

/// <summary>
/// What the host knows of an int buffer's contents (token ids, row lists, targets): the values of one contiguous range
/// last copied to or from it, where positions a device op wrote since may be known only to lie below a bound. Kernels
/// index with ids unchecked, so ops check them on the host first; ids that came from the host are checked here instead
/// of by a read-back that would make the host wait for the device. Ops that write int tensors on the device forget the
/// buffer's range (<see cref="IlgpuKernels.SampleCategorical"/>, <see cref="IlgpuKernels.Argmax"/>), and the next check
/// reads those ids back, or bound the positions they write (<see cref="IlgpuKernels.ScatterIds"/>, which replaces ids
/// outside its limit on the device). Used under the device's lock.
/// </summary>
internal sealed class HostIdMirror(long bufferLength)
{
    private int[] _values = [], _bounds = []; // per position: 0 where the value is known, else its exclusive upper bound
    private long _start, _end; // the known range [_start, _end); empty when equal
    private int _boundedPositions; // positions of the range with a bound instead of a value

    /// <summary>Values [offset, offset + values.Length) were copied to or from the buffer.</summary>
    public void Record(long offset, ReadOnlySpan<int> values)
    {
        long end = offset + values.Length;
        if (values.IsEmpty) return;
        if (_values.Length < end)
        {
            int length = checked((int)Math.Min(Math.Max(end, 2L * _values.Length), bufferLength));
            Array.Resize(ref _values, length);
            Array.Resize(ref _bounds, length);
        }
        values.CopyTo(_values.AsSpan(checked((int)offset)));
        bool joins = _start < _end && offset <= _end && end >= _start;
        if (!joins) Forget();
        else if (_boundedPositions > 0)
            foreach (ref int bound in _bounds.AsSpan((int)offset, values.Length))
                if (bound != 0)
                {
                    bound = 0;
                    _boundedPositions--;
                }
        (_start, _end) = joins ? (Math.Min(_start, offset), Math.Max(_end, end)) : (offset, end);
    }

    /// <summary>A device op wrote the buffer: nothing of it is known any more.</summary>
    public void Forget()
    {
        _end = _start;
        if (_boundedPositions == 0) return;
        Array.Clear(_bounds);
        _boundedPositions = 0;
    }

    /// <summary>
    /// A device op wrote ids in [0, <paramref name="bound"/>) at positions <paramref name="offset"/> + p for each p of
    /// <paramref name="positions"/>; a position outside the known range makes the whole buffer unknown.
    /// </summary>
    public void Bound(long offset, ReadOnlySpan<int> positions, int bound)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(bound, 1);
        foreach (int p in positions)
            if (offset + p < _start || offset + p >= _end)
            {
                Forget();
                return;
            }
        foreach (int p in positions)
        {
            ref int slot = ref _bounds[offset + p];
            if (slot == 0) _boundedPositions++;
            slot = bound;
        }
    }

    /// <summary>The values [offset, offset + count) when all of them are known.</summary>
    public bool TryGet(long offset, int count, out ReadOnlySpan<int> values)
    {
        bool known = count == 0 || (offset >= _start && offset + count <= _end && !HasBounds(offset, count));
        values = known && count > 0 ? _values.AsSpan(checked((int)offset), count) : default;
        return known;
    }

    /// <summary>
    /// Checks ids [offset, offset + count) against [0, <paramref name="limit"/>) without <paramref name="forbidden"/> (−1:
    /// none) from what is known: false when that cannot decide (a position unknown, or bounded by more than the limit or
    /// by a bound that takes in the forbidden id); else true, with the first invalid position in <paramref name="invalid"/>
    /// (−1 when all are valid).
    /// </summary>
    public bool TryCheck(long offset, int count, int limit, int forbidden, out int invalid)
    {
        invalid = -1;
        if (count == 0) return true;
        if (offset < _start || offset + count > _end) return false;
        var values = _values.AsSpan(checked((int)offset), count);
        var bounds = _boundedPositions > 0 ? _bounds.AsSpan((int)offset, count) : default;
        for (int r = 0; r < count; r++)
        {
            int bound = bounds.IsEmpty ? 0 : bounds[r];
            if (bound != 0)
            {
                if (bound > limit || (uint)forbidden < (uint)bound) return false;
            }
            else if (invalid < 0 && ((uint)values[r] >= (uint)limit || values[r] == forbidden))
                invalid = r;
        }
        return true;
    }

    private bool HasBounds(long offset, int count) =>
        _boundedPositions > 0 && _bounds.AsSpan(checked((int)offset), count).ContainsAnyExcept(0);
}
