/**
 * Chapter 06: the image config, and what `docker run` takes from it. The config is the JSON
 * whose digest is the image ID; its "config" object is the part a container starts from.
 *
 * Given (lib/image-config.ts): applyImageConfig(), which fills spec.process from the config and
 * the run flags as dockerd merges them, and resolveUser(), which turns -u or User into numbers
 * the way runc looks them up in the container's own /etc/passwd and /etc/group. Read them
 * beside the text's "What docker run takes from the config".
 */
export { parseImageConfig, type ImageConfig } from '../../lib/image.ts'
export { applyImageConfig, resolveUser, type RunOptions, type UserFiles } from '../../lib/image-config.ts'
