using System.Text;
using IlgpuDiffusion.Models.Safetensors;
using IlgpuDiffusion.Tests.Data;
using Xunit;

namespace IlgpuDiffusion.Tests.Models;

/// <summary>
/// Hostile safetensors files the reader must refuse with an <see cref="InvalidDataException"/> naming the file and the
/// tensor: overlapping, scattered or incomplete data offsets, repeated keys, text that is not UTF-8, shapes whose element
/// count overflows, and weights that are not finite numbers.
/// </summary>
public sealed class SafetensorsValidationTests : IDisposable
{
    private readonly TempDirectory _folder = new();

    private static string Tensor(string name, long begin, long end, string shape = "[4]", string dtype = "F32") =>
        $"\"{name}\":{{\"dtype\":\"{dtype}\",\"shape\":{shape},\"data_offsets\":[{begin},{end}]}}";

    private string Refused(byte[] bytes)
    {
        string path = _folder.Write($"{Guid.NewGuid():N}.safetensors", bytes);
        string message = Assert.Throws<InvalidDataException>(() => SafetensorsReader.Open(path)).Message;
        Assert.Contains(path, message);
        return message;
    }

    [Fact]
    public void Overlapping_tensors_are_refused_naming_both()
    {
        string message = Refused(RawSafetensors.FromHeader($"{{{Tensor("a", 0, 16)},{Tensor("b", 8, 24)}}}", 24));
        Assert.Contains("'a'", message);
        Assert.Contains("'b'", message);
        Assert.Contains("overlap", message);
        Assert.Contains("overlap", Refused(RawSafetensors.FromHeader($"{{{Tensor("a", 0, 16)},{Tensor("same", 0, 16)}}}", 16)));
    }

    [Fact]
    public void Data_bytes_that_belong_to_no_tensor_are_refused()
    {
        string hole = Refused(RawSafetensors.FromHeader($"{{{Tensor("a", 0, 16)},{Tensor("late", 20, 36)}}}", 36));
        Assert.Contains("'late'", hole);
        Assert.Contains("[16, 20)", hole);
        string misaligned = Refused(RawSafetensors.FromHeader($"{{{Tensor("shifted", 4, 20)}}}", 20));
        Assert.Contains("'shifted'", misaligned);
        Assert.Contains("[0, 4)", misaligned);
        Assert.Contains("[16, 24)", Refused(RawSafetensors.FromHeader($"{{{Tensor("a", 0, 16)}}}", 24)));
    }

    [Fact]
    public void Empty_tensors_and_tensors_listed_out_of_order_are_accepted()
    {
        string header = $"{{{Tensor("second", 16, 32)},{Tensor("empty", 16, 16, "[0, 3]")},{Tensor("first", 0, 16)}}}";
        string path = _folder.Write("ok.safetensors", RawSafetensors.FromHeader(header, 32));
        using var reader = SafetensorsReader.Open(path);
        Assert.Equal(["second", "empty", "first"], reader.Tensors.Select(t => t.Name));
        Assert.Empty(reader.ReadFloats("empty"));
        Assert.Equal(32, reader.DataLength);
    }

    [Fact]
    public void A_key_listed_twice_is_refused_naming_it()
    {
        Assert.Contains("'w' twice", Refused(RawSafetensors.FromHeader($"{{{Tensor("w", 0, 16)},{Tensor("w", 16, 32)}}}", 32)));
        string metadata = "\"__metadata__\":{\"format\":\"x\",\"format\":\"y\"}";
        Assert.Contains("'format' twice", Refused(RawSafetensors.FromHeader($"{{{metadata},{Tensor("w", 0, 16)}}}", 16)));
    }

    [Fact]
    public void A_header_that_is_not_utf8_text_is_refused()
    {
        byte[] header = Encoding.UTF8.GetBytes($"{{{Tensor("w\u00e9", 0, 16)}}}");
        header[Array.IndexOf(header, (byte)0xC3)] = 0xFF;
        Assert.Contains("UTF-8", Refused(RawSafetensors.FromHeader(header, new byte[16])));
        string loneSurrogate = $"{{\"__metadata__\":{{\"k\":\"\\udc00\"}},{Tensor("w", 0, 16)}}}";
        Refused(RawSafetensors.FromHeader(loneSurrogate, 16));
    }

    [Fact]
    public void A_shape_whose_size_overflows_is_refused_naming_the_tensor()
    {
        string message = Refused(RawSafetensors.FromHeader($"{{{Tensor("huge", 0, 16, "[4294967296, 4294967296]")}}}", 16));
        Assert.Contains("'huge'", message);
        Assert.Contains("[4294967296, 4294967296]", message);
        Assert.Contains("'big'", Refused(RawSafetensors.FromHeader($"{{{Tensor("big", 0, 16, "[2305843009213693952]")}}}", 16)));
    }

    [Theory]
    [InlineData("F32", float.NaN)]
    [InlineData("F32", float.PositiveInfinity)]
    [InlineData("F16", float.NegativeInfinity)]
    [InlineData("BF16", float.NaN)]
    public void Weights_that_are_not_finite_are_refused_naming_the_tensor_and_element(string dtypeName, float bad)
    {
        var dtype = Enum.Parse<SafetensorsDtype>(dtypeName);
        var values = new float[300_000];
        values[200_001] = bad;
        string path = _folder.Write("w.safetensors", new RawSafetensors()
            .Add("fine", dtype, [1f, 2f], 2)
            .Add("output.bias", dtype, values, 300_000).ToBytes());
        using var reader = SafetensorsReader.Open(path);
        Assert.Equal([1f, 2f], reader.ReadFloats("fine"));
        string message = Assert.Throws<InvalidDataException>(() => reader.ReadFloats("output.bias")).Message;
        Assert.Contains("'output.bias'", message);
        Assert.Contains(path, message);
        Assert.Contains("element 200001", message);
    }

    public void Dispose() => _folder.Dispose();
}
