# Sourced by Canopy's scripts: loads .env.sample, then .env, without overriding variables
# that are already set in the environment. Lines are KEY=VALUE (an "export " prefix and
# surrounding quotes are accepted); values are taken literally, never evaluated.
canopy_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
canopy_load_env_file() {
  local file="$1" line key value
  [[ -f "$file" ]] || return 0
  while IFS= read -r line || [[ -n "$line" ]]; do
    line="${line%$'\r'}"
    line="${line#export }"
    [[ "$line" =~ ^[[:space:]]*# || ! "$line" =~ ^[A-Za-z_][A-Za-z0-9_]*= ]] && continue
    key="${line%%=*}"
    value="${line#*=}"
    if [[ "$value" =~ ^\"(.*)\"$ || "$value" =~ ^\'(.*)\'$ ]]; then
      value="${BASH_REMATCH[1]}"
    fi
    if [[ -z "${!key+x}" || -n "${canopy_from_file[$key]:-}" ]]; then
      export "$key=$value"
      canopy_from_file[$key]=1
    fi
  done < "$file"
}
declare -A canopy_from_file=()
canopy_load_env_file "$canopy_root/.env.sample"
canopy_load_env_file "$canopy_root/.env"
unset canopy_from_file
