using Microsoft.AspNetCore.Http;

namespace IlgpuDiffusion.Cli.Serving;

/// <summary>
/// A request the server refuses, answered as an OpenAI-style error object with <see cref="Status"/>: the message says what
/// is wrong, <see cref="Param"/> names the request field at fault.
/// </summary>
internal sealed class ApiException(int status, string message, string? param = null, string? code = null,
    string type = ApiException.InvalidRequest) : Exception(message)
{
    /// <summary>The error type of a request that is wrong as sent.</summary>
    public const string InvalidRequest = "invalid_request_error";

    /// <summary>The HTTP status code of the answer.</summary>
    public int Status { get; } = status;

    /// <summary>The request field at fault, or null.</summary>
    public string? Param { get; } = param;

    /// <summary>A short machine-readable code (<c>model_not_found</c>), or null.</summary>
    public string? Code { get; } = code;

    /// <summary>The OpenAI error type (<see cref="InvalidRequest"/>, <c>rate_limit_error</c>, ...).</summary>
    public string Type { get; } = type;

    /// <summary>A 400 answer for the field <paramref name="param"/>.</summary>
    public static ApiException Invalid(string param, string message) => new(StatusCodes.Status400BadRequest, message, param);

    /// <summary>The error object of the answer.</summary>
    public ErrorBody Body() => new(new ErrorDetail(Message, Type, Param, Code));
}
