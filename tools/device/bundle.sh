# Sourced by the device scripts, from the repository root: unpacks .device/bundle.tar.xz (from pack.sh) into $root,
# puts its .NET first on PATH and sets $out, the folder for logs ($OUT, or ./device-out).
out=${OUT:-$PWD/device-out}; mkdir -p "$out"
root=/tmp/ilgpu-diffusion-bundle; mkdir -p $root
tar -xJf .device/bundle.tar.xz -C $root
export DOTNET_ROOT=$root/dotnet PATH=$root/dotnet:$PATH DOTNET_ROLL_FORWARD=Major DOTNET_CLI_TELEMETRY_OPTOUT=1
